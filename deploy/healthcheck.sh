#!/bin/bash
# Container health check: GET /healthz on the port of LISTEN_ADDR; exit 0 on HTTP 200.
#
# The runtime image carries no HTTP client (no curl, no wget): this speaks HTTP/1.0 over bash's
# /dev/tcp, with nothing installed. The probe connects to the loopback address unless
# LISTEN_ADDR names one specific address.
set -u

addr=${LISTEN_ADDR:-127.0.0.1:8080}
port=${addr##*:}
host=${addr%:*}
host=${host#[}
host=${host%]}
case $host in
  "" | 0.0.0.0 | "::") host=127.0.0.1 ;;
esac

exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\nUser-Agent: concierge-healthcheck\r\n\r\n' "$host" >&3
IFS= read -r -t 5 status_line <&3 || exit 1
exec 3<&- 3>&-
case $status_line in
  "HTTP/"*" 200"*) exit 0 ;;
  *) echo "healthcheck: /healthz answered: ${status_line%$'\r'}" >&2; exit 1 ;;
esac
