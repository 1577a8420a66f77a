#!/bin/sh
# Dead-man watchdog (POSIX sh and curl, no Python). Shares nothing with bite but the heartbeat:
# when ${CERBERO_BITE_DATA_DIR:-./data}/heartbeat is missing or older than
# DEAD_MAN_MAX_AGE_MIN (20) minutes, send one Telegram message per outage, and one when it is
# fresh again. The file's content is never parsed: only its modification time counts.
# Token and chat id: CERBERO_BITE_TELEGRAM_BOT_TOKEN / _CHAT_ID or their _FILE variables.
# Neither the token nor the chat id appears in a process's arguments (`ps` shows those): curl
# reads the URL and the form fields from a config on stdin.
set -u
data_dir=${CERBERO_BITE_DATA_DIR:-./data}
max_age=${DEAD_MAN_MAX_AGE_MIN:-20}
heartbeat="$data_dir/heartbeat"
api=${CERBERO_BITE_TELEGRAM_API:-https://api.telegram.org} # another address only for tests
state="$data_dir/dead_man.state"

secret() { # name
    eval "value=\${$1:-}"
    if [ -z "$value" ]; then
        eval "file=\${$1_FILE:-}"
        if [ -n "$file" ] && [ -r "$file" ]; then
            value=$(head -n 1 "$file")
        fi
    fi
    printf '%s' "$value"
}

send() { # text
    token=$(secret CERBERO_BITE_TELEGRAM_BOT_TOKEN)
    chat=$(secret CERBERO_BITE_TELEGRAM_CHAT_ID)
    if [ -z "$token" ] || [ -z "$chat" ]; then
        echo "dead_man: no Telegram credentials; would have sent: $1" >&2
        return 0
    fi
    {
        printf 'url = "%s/bot%s/sendMessage"\n' "$(quoted "$api")" "$(quoted "$token")"
        printf 'data-urlencode = "chat_id=%s"\n' "$(quoted "$chat")"
        printf 'data-urlencode = "text=%s"\n' "$(quoted "$1")"
    } | curl --silent --show-error --max-time 20 --config - >/dev/null
}

quoted() { # text -> the same text escaped for a double-quoted curl config value
    printf '%s' "$1" | tr -d '\n\r' | sed 's/\\/\\\\/g; s/"/\\"/g'
}

host=$(hostname 2>/dev/null || echo host)
if [ -f "$heartbeat" ] && [ -z "$(find "$heartbeat" -mmin +"$max_age" 2>/dev/null)" ]; then
    fresh=1
else
    fresh=0
fi

if [ "$fresh" -eq 0 ]; then
    if [ ! -f "$state" ]; then
        if send "Cerbero Bite on $host: no heartbeat for more than $max_age minutes. Check the timers and 'bite status'."; then
            mkdir -p "$data_dir" && echo down > "$state"
        fi
    fi
else
    if [ -f "$state" ]; then
        if send "Cerbero Bite on $host: the heartbeat is fresh again."; then
            rm -f "$state"
        fi
    fi
fi
exit 0
