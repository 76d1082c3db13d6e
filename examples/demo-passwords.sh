# Source this file (`. examples/demo-passwords.sh FILE`) to give every new account of a
# desired-state FILE a random throw-away initial password, for the demos only.
#
# New CSAM accounts need an initial password (S4: "Wachtwoord (eerste keer)"). The desired
# state never holds one: each person's entry names an environment variable
# (`password: { env: CSAM_PW_<NAME> }`). This exports each variable FILE names with a
# random 12-character value that meets the manual's rules (2 letters, 8 hex digits, "!"
# and a digit). The values live only in this shell's environment and are never shown;
# the demo registry stores none.
# shellcheck disable=SC2013 # the names are single words
for csam_pw_var in $(grep -o 'CSAM_PW_[A-Z_]*' "${1:?usage: . examples/demo-passwords.sh FILE}" | sort -u); do
  export "$csam_pw_var=Dm$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')!7"
done
unset csam_pw_var
