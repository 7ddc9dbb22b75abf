import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * Readiness probe for the native broker: a real admin round trip (describe cluster and list
 * topics), not just an open port. Run with the single-file source launcher:
 * java -cp 'libs/*' KafkaReady.java 127.0.0.1:9092
 */
public final class KafkaReady {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "4000");
    try (Admin admin = Admin.create(props)) {
      String clusterId = admin.describeCluster().clusterId().get(5, TimeUnit.SECONDS);
      int topics = admin.listTopics().names().get(5, TimeUnit.SECONDS).size();
      System.out.println("kafka ready: cluster " + clusterId + ", " + topics + " topics");
    } catch (Exception e) {
      System.out.println("kafka not ready: " + e.getClass().getSimpleName() + ": " + e.getMessage());
      System.exit(1);
    }
  }
}
