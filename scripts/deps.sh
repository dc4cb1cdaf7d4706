# shellcheck shell=bash
#
# Installs the Debian packages that freshd's scripts need, sourced by
# scripts/run and scripts/check (never run on its own).
#
# deps_install PURPOSE... installs exactly the packages of each purpose:
#   build  compiler, autotools and the -dev packages of every library
#   run    what scripts/run uses besides the build (curl, for the demo)
#   test   what `make check` and the conformance suite run with
# A package already installed (as dpkg-query sees it) is skipped, and
# `apt-get update` runs only when something is missing, so a second run costs
# a few dpkg-query calls. It runs apt-get as root, or through sudo otherwise,
# without questions (DEBIAN_FRONTEND=noninteractive).
#
# Node.js is the one exception to "install the Debian package": the
# conformance suite (http-cache-tests) needs node >= 14.8 and npm, and many
# machines already have a newer node from another source (NodeSource ships
# node and npm together in its own `nodejs` package). Installing Debian's
# `npm` there would pull Debian's older nodejs over it or conflict with it,
# so when a `node` of major version >= 18 and an `npm` are on PATH they are
# used as they are; only a machine without them gets Debian's `nodejs npm`
# (Debian 12 ships node 18).

DEPS_BUILD="build-essential autoconf automake libtool pkg-config libevent-dev
libssl-dev zlib1g-dev libzstd-dev liblmdb-dev libbrotli-dev check"
DEPS_RUN="curl"
DEPS_TEST="python3 curl lmdb-utils openssl"
DEPS_NODE_MIN=18

# Prints the major version of the node on PATH, or nothing.
deps_node_major() {
	command -v node >/dev/null 2>&1 || return 0
	node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true
}

# Succeeds when a usable node and npm are already on PATH.
deps_have_node() {
	local major
	major=$(deps_node_major)
	[ -n "$major" ] && [ "$major" -ge "$DEPS_NODE_MIN" ] &&
		command -v npm >/dev/null 2>&1
}

# Succeeds when the Debian package $1 is installed.
deps_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# deps_install PURPOSE...: see the top of this file.
deps_install() {
	local purpose wanted="" missing="" pkg
	local -a sudo=()

	for purpose in "$@"; do
		case $purpose in
		build) wanted="$wanted $DEPS_BUILD" ;;
		run) wanted="$wanted $DEPS_RUN" ;;
		test)
			wanted="$wanted $DEPS_TEST"
			deps_have_node || wanted="$wanted nodejs npm"
			;;
		*)
			echo "deps_install: unknown purpose '$purpose'" >&2
			return 2
			;;
		esac
	done

	for pkg in $wanted; do
		case " $missing " in *" $pkg "*) continue ;; esac
		deps_installed "$pkg" || missing="$missing $pkg"
	done
	[ -n "$missing" ] || return 0

	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || {
			echo "deps: missing Debian packages:$missing; run as root or install sudo" >&2
			return 1
		}
		sudo=(sudo)
	fi
	echo "deps: installing$missing"
	# The word splitting of $missing is intended: one argument per package.
	# shellcheck disable=SC2086
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq update &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get -qq -y --no-install-recommends install $missing
}
