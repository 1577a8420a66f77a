#!/bin/sh
# Render the crontab template for this checkout and install it for the current user.
#   scripts/install-cron.sh            install (refuses unless the system time zone is UTC)
#   scripts/install-cron.sh --print    print the rendered crontab, install nothing
#   scripts/install-cron.sh --tz-ok    install even though the time zone is not UTC
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
print_only=0
tz_ok=0
for arg in "$@"; do
    case "$arg" in
        --print) print_only=1 ;;
        --tz-ok) tz_ok=1 ;;
        *) echo "usage: $0 [--print] [--tz-ok]" >&2; exit 2 ;;
    esac
done
case "$here" in
    *@*|*'|'*) echo "install-cron: the path $here contains @ or |" >&2; exit 2 ;;
esac
rendered=$(sed "s|@BITE_HOME@|$here|g" "$here/crontab")
if [ "$print_only" -eq 1 ]; then
    printf '%s\n' "$rendered"
    exit 0
fi
offset=$(date +%z)
if [ "$offset" != "+0000" ] && [ "$tz_ok" -ne 1 ]; then
    echo "install-cron: the system time zone is not UTC (offset $offset); cron would run" \
         "the jobs at the wrong hours. Set it to UTC or pass --tz-ok." >&2
    exit 2
fi
mkdir -p "$here/data"
printf '%s\n' "$rendered" | crontab -
echo "installed the Cerbero Bite crontab for $(id -un) (crontab -l to see it)"
