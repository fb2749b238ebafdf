// Package securitytest attacks a real node as an attacker would (DESIGN §9,
// issue 12): no credentials, a wrong password, another user's session, a
// write into a subtree the attacker has no rights on, path tricks, huge and
// deep bodies, a foreign WebSocket origin, repeated refusals, a flood of
// connections and a slowloris client. Each attack must end with the
// documented status and the tree unchanged, while a legitimate client
// working beside it keeps being served; its p99 under each attack is
// logged for the record.
//
// It holds tests only, and never changes the server to suit them.
package securitytest
