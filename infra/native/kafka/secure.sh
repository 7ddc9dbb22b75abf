# shellcheck shell=bash
# Sourced by infra/native/infra.sh: the opt-in Kafka broker that takes clients over SASL_SSL only
# (SCRAM-SHA-512 over TLS, as a managed cluster does), for the security integration test and for
# trying the services against it (docs/security.md):
#
#   infra/native/infra.sh start kafka-secure && eval "$(infra/native/infra.sh env-secure)"
#
# Certificates (a CA, the broker's, a client's for mTLS) and the passwords are generated once
# with openssl and keytool, then kept in $PARLEY_STATE_DIR/kafka-secure-tls across starts.

: "${KAFKA_SECURE_PORT:=9094}"
: "${KAFKA_SECURE_CONTROLLER_PORT:=9095}"

kafka_secure_tls_dir() { echo "$PARLEY_STATE_DIR/kafka-secure-tls"; }

# The CA, the broker's certificate (127.0.0.1 and localhost) in a PKCS12 keystore, a client
# certificate, a second CA nothing trusts (for the untrusted-certificate test) and the passwords.
gen_kafka_secure_tls() {
  local d
  d="$(kafka_secure_tls_dir)"
  [ -f "$d/.complete" ] && return 0
  command -v openssl >/dev/null || die "openssl is needed to generate the secure broker's certificates"
  command -v keytool >/dev/null || die "keytool (from a JDK) is needed to check the secure broker's keystore"
  log "generating the secure broker's certificates and passwords in $d (first run only)"
  local tmp="$d.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  (
    cd "$tmp"
    umask 077
    openssl rand -hex 24 >store-password
    openssl rand -hex 24 >admin-password
    openssl rand -hex 24 >parley-password
    local ca_ext="basicConstraints=critical,CA:TRUE"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Parley local Kafka CA" \
      -addext "$ca_ext" -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Parley untrusted CA" \
      -addext "$ca_ext" -keyout other-ca.key -out other-ca.pem 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >broker.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout broker.key -out broker.csr 2>/dev/null
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
      -extfile broker.ext -out broker.pem 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=parley" -keyout client.key -out client.csr 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
      -extfile client.ext -out client.pem 2>/dev/null
    openssl pkcs12 -export -name broker -in broker.pem -inkey broker.key -certfile ca.pem \
      -passout "pass:$(cat store-password)" -out broker.p12
    # The JVM must read the keystore openssl wrote (its PKCS12 defaults changed across versions).
    keytool -list -storetype PKCS12 -keystore broker.p12 -storepass "$(cat store-password)" >/dev/null
    rm -f ./*.csr ./*.ext ./*.srl
  ) || { rm -rf "$tmp"; die "generating the secure broker's certificates failed"; }
  touch "$tmp/.complete"
  rm -rf "$d" && mv "$tmp" "$d"
}

start_kafka-secure() {
  install_kafka
  gen_kafka_secure_tls
  stop_one kafka-secure
  ensure_port_free kafka-secure "$KAFKA_SECURE_PORT" KAFKA_SECURE_PORT
  ensure_port_free "kafka-secure controller" "$KAFKA_SECURE_CONTROLLER_PORT" KAFKA_SECURE_CONTROLLER_PORT
  local dir="$PARLEY_STATE_DIR/kafka-secure" tls
  local cp="$kafka_home/libs/*"
  tls="$(kafka_secure_tls_dir)"
  rm -rf "$dir" && mkdir -p "$dir/data"
  (umask 077 && KAFKA_DATA_DIR="$dir/data" KAFKA_SECURE_TLS_DIR="$tls" \
    KAFKA_SECURE_STORE_PASSWORD="$(cat "$tls/store-password")" \
    KAFKA_SECURE_ADMIN_PASSWORD="$(cat "$tls/admin-password")" \
    KAFKA_SECURE_PASSWORD="$(cat "$tls/parley-password")" \
    KAFKA_SECURE_PORT="$KAFKA_SECURE_PORT" KAFKA_SECURE_CONTROLLER_PORT="$KAFKA_SECURE_CONTROLLER_PORT" \
    envsubst_lite <"$here/kafka/server-secure.properties.template" >"$dir/server.properties")
  local cluster_id
  cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
  # SCRAM credentials live in the cluster metadata: written when the storage is formatted.
  java -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$tls/admin-password")]" \
    --add-scram "SCRAM-SHA-512=[name=parley,password=$(cat "$tls/parley-password")]" \
    --add-scram "SCRAM-SHA-256=[name=parley,password=$(cat "$tls/parley-password")]" \
    >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "formatting the secure broker's KRaft storage failed"; }
  started_at=$SECONDS
  log "starting kafka $KAFKA_VERSION with SASL_SSL (SCRAM-SHA-512 over TLS) on 127.0.0.1:$KAFKA_SECURE_PORT"
  # shellcheck disable=SC2086 # KAFKA_JVM_OPTS is a list of options
  launch kafka-secure java -Xms128m -Xmx${KAFKA_HEAP:-384m} -XX:+UseG1GC ${KAFKA_JVM_OPTS:-} \
    -Dparley.infra="$PARLEY_STATE_DIR/kafka-secure" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$cp" kafka.Kafka "$dir/server.properties"
  wait_ready kafka-secure health_kafka-secure
}

# Ready when the TLS listener completes a handshake with a certificate the CA verifies.
health_kafka-secure() {
  port_open "$KAFKA_SECURE_PORT" || return 1
  local out
  out="$(openssl s_client -connect "127.0.0.1:$KAFKA_SECURE_PORT" -CAfile "$(kafka_secure_tls_dir)/ca.pem" \
    -verify_return_error -brief </dev/null 2>&1)" || { echo "TLS handshake failed"; return 1; }
  echo "TLS $(sed -nE 's/^Protocol version: (.*)/\1/p' <<<"$out") with a verified certificate"
}

install_kafka-secure() { install_kafka && gen_kafka_secure_tls; }

print_secure_env() {
  local d
  d="$(kafka_secure_tls_dir)"
  cat <<EOF2
export KAFKA_BROKERS=127.0.0.1:$KAFKA_SECURE_PORT
export KAFKA_TLS=true KAFKA_TLS_CA_FILE=$d/ca.pem
export KAFKA_SASL_MECHANISM=scram-sha-512 KAFKA_SASL_USERNAME=parley KAFKA_SASL_PASSWORD_FILE=$d/parley-password
EOF2
}
