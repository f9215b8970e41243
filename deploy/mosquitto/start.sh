#!/bin/sh
# Starts Mosquitto without anonymous clients: the password file is written here from the environment
# at every start (mosquitto_passwd hashes the passwords; they are read from stdin, never on a command
# line), with the access list beside this script.
set -eu
: "${MQTT_INGEST_PASSWORD:?set MQTT_INGEST_PASSWORD}" "${MQTT_DEVICE_PASSWORD:?set MQTT_DEVICE_PASSWORD}"
here=$(dirname "$0")
run_dir=${MOSQUITTO_RUN_DIR:-/mosquitto/run}
data_dir=${MOSQUITTO_DATA_DIR:-/mosquitto/data}
user=${MOSQUITTO_USER:-mosquitto}  # started as root, Mosquitto runs as this user
umask 077
mkdir -p "$run_dir"
: > "$run_dir/passwd"
add_user() {  # name password
  printf '%s\n%s\n' "$2" "$2" | mosquitto_passwd "$run_dir/passwd" "$1" > /dev/null
}
add_user "${MQTT_INGEST_USERNAME:-smart-dairy-ingest}" "$MQTT_INGEST_PASSWORD"
add_user "${MQTT_DEVICE_USERNAME:-smart-dairy-device}" "$MQTT_DEVICE_PASSWORD"
sed -e "s/@INGEST@/${MQTT_INGEST_USERNAME:-smart-dairy-ingest}/" -e "s/@DEVICE@/${MQTT_DEVICE_USERNAME:-smart-dairy-device}/" \
  "$here/acl" > "$run_dir/acl"
cat > "$run_dir/mosquitto.conf" <<CONF
user $user
listener ${MQTT_PORT:-1883}${MQTT_BIND:+ $MQTT_BIND}
allow_anonymous false
password_file $run_dir/passwd
acl_file $run_dir/acl
persistence true
persistence_location $data_dir/
CONF
# Mosquitto reads these files after leaving root for its own user.
if [ "$(id -u)" = 0 ] && [ "$user" != root ]; then
  chown -R "$user" "$run_dir" "$data_dir"
fi
exec mosquitto -c "$run_dir/mosquitto.conf"
