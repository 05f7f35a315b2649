#!/bin/sh
# Entry point of the Concierge image.
#
#   (no argument) or `serve`   migrate first (see below), then become `concierge serve`
#   anything else              `concierge <arguments>`: migrate, bootstrap, export-schema, help
#
# Migrations: when DATABASE_URL is set and RUN_MIGRATIONS is not `false`, `concierge migrate`
# runs before the server starts and a failure stops the container (the server never runs on a
# schema it does not know). Replicas starting together are safe: the migration takes a
# PostgreSQL advisory lock, the second one waits and then finds nothing to do.
# RUN_MIGRATIONS=false is for deployments that migrate in a job of their own (Kubernetes).
#
# Either way the server itself is started with AUTO_MIGRATE=false: this script has already
# migrated, or was told not to, and `concierge serve` must not do it behind its back.
#
# `exec` replaces this shell with the binary, so that the binary is the container's main
# process and receives SIGTERM itself (it drains in-flight requests and exits with status 0).
set -eu

command=${1:-serve}

if [ "$command" != serve ]; then
  exec concierge "$@"
fi
if [ "$#" -gt 0 ]; then shift; fi

case ${RUN_MIGRATIONS:-true} in
  [Ff][Aa][Ll][Ss][Ee]) migrate=false ;;
  *) migrate=true ;;
esac

if [ -n "${DATABASE_URL:-}" ] && [ "$migrate" = true ]; then
  echo "entrypoint: applying database migrations" >&2
  concierge migrate
fi

export AUTO_MIGRATE=false
exec concierge serve "$@"
