package httpapi

// Node is what the API needs of its node besides the operations (which it
// reaches through service): its role and readiness, for the health and
// status routes. consensus.Node in production.
type Node interface {
	Applied() int64
	Ready() bool
	Role() string
	ID() string
}
