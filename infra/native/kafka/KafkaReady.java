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
    // Wall-clock bounds (-Dparley.probe.timeout.s, 10 s by default): a starved JVM needs seconds
    // just to load the client's classes, so a tight bound fails every poll of a broker that is up.
    long timeoutS = Long.getLong("parley.probe.timeout.s", 10L);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(timeoutS * 1000 - 1000));
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, String.valueOf(timeoutS * 1000));
    try (Admin admin = Admin.create(props)) {
      String clusterId = admin.describeCluster().clusterId().get(timeoutS, TimeUnit.SECONDS);
      int topics = admin.listTopics().names().get(timeoutS, TimeUnit.SECONDS).size();
      System.out.println("kafka ready: cluster " + clusterId + ", " + topics + " topics");
    } catch (Exception e) {
      System.out.println("kafka not ready: " + e.getClass().getSimpleName() + ": " + e.getMessage());
      System.exit(1);
    }
  }
}
