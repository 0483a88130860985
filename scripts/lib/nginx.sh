# shellcheck shell=bash
# nginx (Debian's nginx-light) as the benchmarks' anchor: one worker, sendfile, no access log,
# run as our own process on a loopback port. Callers keep an array `pids` (started processes,
# stopped on exit); needs free_port (scripts/lib/garage.sh).

# start_nginx ROOT DIR: serves ROOT on a loopback port, its config, logs and temporary files
# in DIR; sets nginx_url.
start_nginx() {
  local port dir=$2
  port=$(free_port)
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  types { application/json json; }
  default_type application/octet-stream;
  server { listen 127.0.0.1:$port; root $1; }
}
CONF
  nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" &
  pids+=("$!")
  nginx_url="http://127.0.0.1:$port"
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "$nginx_url/" && return
    sleep 0.1
  done
  echo "nginx did not start:" >&2
  cat "$dir/error.log" >&2
  exit 1
}
