# asyncflowctl.bash: bash completion for asyncflowctl (source it, or
# install it as /usr/share/bash-completion/completions/asyncflowctl).
#
# Completes the commands, each command's options, the global options
# (-s/--socket, -o/--output, anywhere on the line), the values of --state
# and -o, file names for -s and for @FILE arguments, and flow names after
# start and ls --flow, asked of the daemon with `asyncflowctl modules`
# (one short request; nothing is offered if no daemon answers).
# Not here: what the commands do (asyncflowctl --help, asyncflowctl(1)).

_asyncflowctl_flows()
{
	local sock=$1
	"${COMP_WORDS[0]}" ${sock:+-s "$sock"} -o json modules 2>/dev/null |
	    tr -d '[]"{} ' | sed -n 's/^flows:\(.*\),objects:.*$/\1/p' |
	    tr ',' ' '
}

_asyncflowctl()
{
	local cur prev words cword cmd= sock= i w
	local commands="mkvow start settle vow ls show journal failures wake stats modules serve help"
	local global="-s --socket -o --output -h --help --version"

	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	# The command (the first word that is not an option or its value)
	# and the socket, if given, wherever they are.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--) break ;;
		-s|--socket) sock=${COMP_WORDS[i+1]}; ((i++)); continue ;;
		--socket=*) sock=${w#--socket=}; continue ;;
		-o|--output) ((i++)); continue ;;
		-*) continue ;;
		esac
		[ -z "$cmd" ] && cmd=$w
	done

	case $prev in
	-s|--socket)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	-o|--output)
		COMPREPLY=($(compgen -W "json table" -- "$cur"))
		return
		;;
	--state)
		COMPREPLY=($(compgen -W "Running Sleeping Replaying Failed Done" -- "$cur"))
		return
		;;
	--flow)
		COMPREPLY=($(compgen -W "$(_asyncflowctl_flows "$sock")" -- "$cur"))
		return
		;;
	--key|--limit|--after|--timeout|--resolver)
		return
		;;
	esac
	case $cur in
	@*)
		COMPREPLY=($(compgen -f -P @ -- "${cur#@}"))
		return
		;;
	esac
	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W "$commands $global" -- "$cur"))
		return
	fi
	local opts="-s --socket -o --output --help"
	case $cmd in
	start)	opts="$opts --key --wait --timeout" ;;
	settle)	opts="$opts --resolver --reject" ;;
	vow)	opts="$opts --wait --timeout" ;;
	ls)	opts="$opts --state --flow --limit --after" ;;
	serve)	opts="$opts -q --quiet" ;;
	esac
	if [ "$cmd" = start ] && [[ $cur != -* ]]; then
		# FLOW is the first argument after start.
		local n=0
		for ((i = 1; i < COMP_CWORD; i++)); do
			case ${COMP_WORDS[i]} in
			-s|--socket|-o|--output|--key|--timeout) ((i++)) ;;
			-*) ;;
			*) n=$((n + 1)) ;;
			esac
		done
		if [ $n -eq 1 ]; then
			COMPREPLY=($(compgen -W "$(_asyncflowctl_flows "$sock")" -- "$cur"))
			return
		fi
	fi
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}

complete -F _asyncflowctl asyncflowctl
