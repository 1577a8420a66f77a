#!/bin/sh
# Install Cerbero Bite under /opt/cerbero-bite with hardened systemd units (run as root).
#   scripts/install-systemd.sh           copy, create the user and dirs, enable the timers
#   scripts/install-systemd.sh --check   only run systemd-analyze verify on the units
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--check" ]; then
    exec systemd-analyze verify "$here"/systemd/bite-*.service "$here"/systemd/bite-*.timer
fi
[ "$(id -u)" -eq 0 ] || { echo "install-systemd: run as root" >&2; exit 2; }
id cerbero-bite >/dev/null 2>&1 || useradd --system --home /var/lib/cerbero-bite \
    --shell /usr/sbin/nologin cerbero-bite
install -d -o cerbero-bite -g cerbero-bite -m 0700 /var/lib/cerbero-bite
install -d -m 0755 /etc/cerbero-bite
install -d -m 0700 /etc/cerbero-bite/credentials
[ -f /etc/cerbero-bite/strategy.yaml ] || install -m 0644 "$here/strategy.yaml" \
    /etc/cerbero-bite/strategy.yaml
for name in telegram_bot_token telegram_chat_id; do
    [ -f "/etc/cerbero-bite/credentials/$name" ] || install -m 0600 /dev/null \
        "/etc/cerbero-bite/credentials/$name"
done
if [ "$here" != /opt/cerbero-bite ]; then
    mkdir -p /opt/cerbero-bite
    cp -a "$here/." /opt/cerbero-bite/
fi
(cd /opt/cerbero-bite && make install)
install -m 0644 /opt/cerbero-bite/systemd/bite-*.service /opt/cerbero-bite/systemd/bite-*.timer \
    /etc/systemd/system/
systemctl daemon-reload
for job in entry monitor health backup deadman; do
    systemctl enable --now "bite-$job.timer"
done
echo "installed; put secrets in /etc/cerbero-bite/credentials and check: systemctl list-timers 'bite-*'"
