package api

// MemberRequest asks for a node to join the cluster (POST /v1/cluster/members).
type MemberRequest struct {
	ID    string `json:"id"`
	Raft  string `json:"raft"`
	HTTP  string `json:"http"`
	Voter bool   `json:"voter"`
}

// Member is one cluster member as GET /v1/cluster shows it.
type Member struct {
	ID    string `json:"id"`
	HTTP  string `json:"http"`
	Raft  string `json:"raft"`
	Voter bool   `json:"voter"`
	// LastContactMs is the time since the member last heard from the
	// leader, known for the answering node itself only (0 on the leader).
	LastContactMs *int64 `json:"last_contact_ms"`
}

// Cluster is the body of GET /v1/cluster.
type Cluster struct {
	Self         string   `json:"self"`
	Leader       *Member  `json:"leader"`
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex int64    `json:"applied_index"`
	Members      []Member `json:"members"`
}
