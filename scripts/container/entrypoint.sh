#!/bin/sh
# The container's start, as root under tini. With a command (`podman run IMAGE bite
# status`), run it as the user bite. Without one: give /data to bite, run one health-run
# so that the heartbeat and the config's check exist at once, then cron in the
# foreground runs the jobs of /etc/cron.d/bite.
set -eu
if [ "$#" -gt 0 ]; then
    exec as-bite "$@"
fi
chown bite:bite /data
cd /data
as-bite bite health-run || echo "entrypoint: the first health-run exited $?; cron starts anyway"
exec cron -f
