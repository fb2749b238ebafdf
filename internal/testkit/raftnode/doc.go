// Package raftnode opens a real single-voter consensus.Node for the tests
// of the packages built on one (httpapi, wsnotify): real raft on a loopback
// socket and a temporary directory, with no server.Main around it.
//
// It is for tests only: no code that ships may import it.
package raftnode
