package fsm_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/canopy-coord/canopy/fsm"
)

func TestMembersAreRecordedForgottenAndSnapshotted(t *testing.T) {
	tree := fsm.NewTree()
	tree.Apply(1, &fsm.Command{Op: fsm.OpSetMember, Path: "n1", RaftAddr: "127.0.0.1:8901", HTTPAddr: "127.0.0.1:8900"})
	tree.Apply(2, &fsm.Command{Op: fsm.OpSetMember, Path: "n2", RaftAddr: "127.0.0.1:9901", HTTPAddr: "127.0.0.1:9900"})
	tree.Apply(3, &fsm.Command{Op: fsm.OpSetMember, Path: "n2", RaftAddr: "127.0.0.1:9911", HTTPAddr: "127.0.0.1:9910"})
	tree.Apply(4, &fsm.Command{Op: fsm.OpSetMember, Path: "n3", RaftAddr: "x", HTTPAddr: "y"})
	tree.Apply(5, &fsm.Command{Op: fsm.OpRemoveMember, Path: "n3"})
	want := []fsm.Member{
		{ID: "n1", RaftAddr: "127.0.0.1:8901", HTTPAddr: "127.0.0.1:8900"},
		{ID: "n2", RaftAddr: "127.0.0.1:9911", HTTPAddr: "127.0.0.1:9910"},
	}
	if got := tree.Members(); !reflect.DeepEqual(got, want) {
		t.Fatalf("members = %+v, want %+v", got, want)
	}
	if res, _ := tree.Apply(6, &fsm.Command{Op: fsm.OpSetMember}); res.Err == nil {
		t.Fatal("a member without an id was recorded")
	}
	var buf bytes.Buffer
	if _, err := tree.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	restored := fsm.NewTree()
	if err := restored.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if got := restored.Members(); !reflect.DeepEqual(got, want) {
		t.Fatalf("members after restore = %+v, want %+v", got, want)
	}
	if m, ok := restored.Member("n1"); !ok || m.HTTPAddr != "127.0.0.1:8900" {
		t.Fatalf("Member(n1) = %+v, %v", m, ok)
	}
}
