# shellcheck shell=bash
# Sourced by infra/native/infra.sh: the opt-in three-node Kafka cluster (KRaft, each node broker
# and controller; replication factor 3, min.insync.replicas 2), for the chaos case that kills one
# broker under load (docs/reliability.md) and for trying the services against a replicated log:
#
#   infra/native/infra.sh start kafka-cluster && eval "$(infra/native/infra.sh env-cluster)"
#   infra/native/infra.sh stop kafka-node-2          # one node down: the cluster still takes acks=all
#   KAFKA_KEEP_DATA=1 infra/native/infra.sh start kafka-node-2   # back on its data, catches up
#
# Node i (1..3) listens for clients on KAFKA_CLUSTER_PORT + 2(i-1) and for the controller quorum
# on the port after it: 9192/9193, 9194/9195, 9196/9197 by default. Data, logs and pids live under
# $PARLEY_STATE_DIR like the single broker's; the cluster id is kept beside the nodes' data.

: "${KAFKA_CLUSTER_PORT:=9192}"

kafka_cluster_nodes=(1 2 3)
kafka_node_port() { echo $((KAFKA_CLUSTER_PORT + 2 * ($1 - 1))); }
kafka_node_controller_port() { echo $((KAFKA_CLUSTER_PORT + 2 * ($1 - 1) + 1)); }
kafka_cluster_voters() {
  local i out=""
  for i in "${kafka_cluster_nodes[@]}"; do out+="${out:+,}$i@127.0.0.1:$(kafka_node_controller_port "$i")"; done
  echo "$out"
}
kafka_cluster_brokers() {
  local i out=""
  for i in "${kafka_cluster_nodes[@]}"; do out+="${out:+,}127.0.0.1:$(kafka_node_port "$i")"; done
  echo "$out"
}

# Renders node i's configuration and formats its storage (with the cluster's id) unless it keeps
# its data (KAFKA_KEEP_DATA=1 and a formatted directory).
prepare_kafka_node() {
  local i="$1" base="$PARLEY_STATE_DIR/kafka-cluster"
  local dir="$base/node-$i" cp="$kafka_home/libs/*"
  if [ "${KAFKA_KEEP_DATA:-0}" = 1 ] && [ -f "$dir/data/meta.properties" ]; then
    log "kafka-node-$i: keeping its data in $dir/data"
  else
    rm -rf "$dir" && mkdir -p "$dir/data"
  fi
  mkdir -p "$base"
  [ -s "$base/cluster-id" ] || java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 >"$base/cluster-id"
  KAFKA_NODE_ID="$i" KAFKA_CLUSTER_VOTERS="$(kafka_cluster_voters)" KAFKA_DATA_DIR="$dir/data" \
    KAFKA_NODE_PORT="$(kafka_node_port "$i")" KAFKA_NODE_CONTROLLER_PORT="$(kafka_node_controller_port "$i")" \
    envsubst_lite <"$here/kafka/server-cluster.properties.template" >"$dir/server.properties"
  if [ ! -f "$dir/data/meta.properties" ]; then
    java -cp "$cp" kafka.tools.StorageTool format -t "$(cat "$base/cluster-id")" -c "$dir/server.properties" \
      --ignore-formatted >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "formatting kafka-node-$i's storage failed"; }
  fi
}

launch_kafka_node() {
  local i="$1" dir="$PARLEY_STATE_DIR/kafka-cluster/node-$1"
  log "starting kafka-node-$i ($KAFKA_VERSION) on 127.0.0.1:$(kafka_node_port "$i") (controller $(kafka_node_controller_port "$i"))"
  # shellcheck disable=SC2086 # KAFKA_JVM_OPTS is a list of options
  launch "kafka-node-$i" java -Xms128m -Xmx${KAFKA_NODE_HEAP:-384m} -XX:+UseG1GC ${KAFKA_JVM_OPTS:-} \
    -Dparley.infra="$PARLEY_STATE_DIR/kafka-node-$i" "${kafka_log_opts[@]}" \
    -cp "$kafka_home/libs/*" kafka.Kafka "$dir/server.properties"
}

# The three nodes start together: a controller quorum needs two of three voters to elect a leader,
# so waiting for node 1 alone before launching node 2 would never end.
start_kafka-cluster() {
  install_kafka
  local i
  for i in "${kafka_cluster_nodes[@]}"; do stop_one "kafka-node-$i"; done
  for i in "${kafka_cluster_nodes[@]}"; do
    ensure_port_free "kafka-node-$i" "$(kafka_node_port "$i")" KAFKA_CLUSTER_PORT
    ensure_port_free "kafka-node-$i controller" "$(kafka_node_controller_port "$i")" KAFKA_CLUSTER_PORT
  done
  [ "${KAFKA_KEEP_DATA:-0}" = 1 ] || rm -rf "$PARLEY_STATE_DIR/kafka-cluster"
  for i in "${kafka_cluster_nodes[@]}"; do prepare_kafka_node "$i"; done
  started_at=$SECONDS
  for i in "${kafka_cluster_nodes[@]}"; do launch_kafka_node "$i"; done
  for i in "${kafka_cluster_nodes[@]}"; do wait_ready "kafka-node-$i" "health_kafka-node-$i"; done
}

# One node again (after `stop kafka-node-i`, or a kill): on its data with KAFKA_KEEP_DATA=1.
start_kafka_node() {
  install_kafka
  local i="$1"
  stop_one "kafka-node-$i"
  ensure_port_free "kafka-node-$i" "$(kafka_node_port "$i")" KAFKA_CLUSTER_PORT
  ensure_port_free "kafka-node-$i controller" "$(kafka_node_controller_port "$i")" KAFKA_CLUSTER_PORT
  prepare_kafka_node "$i"
  started_at=$SECONDS
  launch_kafka_node "$i"
  wait_ready "kafka-node-$i" "health_kafka-node-$i"
}

start_kafka-node-1() { start_kafka_node 1; }
start_kafka-node-2() { start_kafka_node 2; }
start_kafka-node-3() { start_kafka_node 3; }
health_kafka-node-1() { health_kafka "$(kafka_node_port 1)"; }
health_kafka-node-2() { health_kafka "$(kafka_node_port 2)"; }
health_kafka-node-3() { health_kafka "$(kafka_node_port 3)"; }
install_kafka-cluster() { install_kafka; }
health_kafka-cluster() { health_kafka "$(kafka_node_port 1)"; }

print_cluster_env() {
  cat <<EOF2
export KAFKA_BROKERS=$(kafka_cluster_brokers)
EOF2
}
