# Sourced by the cluster scripts (scripts/cluster, bench/cluster-throughput, bench/router-cpu):
# a free loopback port, and a single-member etcd started in the calling shell.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_etcd DIR: starts etcd with its data and log in DIR, appends its pid to the caller's
# `pids` (for its cleanup), sets `etcd_url`, and returns once etcd answers. Call it directly,
# never in a command substitution, so that the caller's shell owns the process.
start_etcd() {
  local dir=$1 client peer
  client=$(free_port); peer=$(free_port)
  etcd_url="http://127.0.0.1:$client"
  mkdir -p "$dir"
  etcd --name local --data-dir "$dir/etcd" --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "local=http://127.0.0.1:$peer" > "$dir/etcd.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf -X POST -d '{"key":"AA=="}' "$etcd_url/v3/kv/range" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "etcd did not start at $etcd_url (see $dir/etcd.log)" >&2
  return 1
}
