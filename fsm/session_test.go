package fsm_test

import (
	"fmt"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

func TestCreateSessionNegotiatesTimeout(t *testing.T) {
	for _, tc := range []struct {
		requested, want int64
	}{
		{0, fsm.DefaultSessionTimeout},
		{1, fsm.MinSessionTimeout},
		{-5, fsm.MinSessionTimeout},
		{1999, 2000},
		{2000, 2000},
		{15000, 15000},
		{60000, 60000},
		{60001, 60000},
		{1 << 40, fsm.MaxSessionTimeout},
	} {
		if got := fsm.ClampTimeout(tc.requested); got != tc.want {
			t.Errorf("ClampTimeout(%d) = %d, want %d", tc.requested, got, tc.want)
		}
		h := newHarness(t)
		res, ev := h.apply(openSession(0x10, tc.requested))
		if res.Err != nil || len(ev) != 0 {
			t.Fatalf("createSession(%d): %+v %v", tc.requested, res, ev)
		}
		info, _, err := h.tree.Session(0x10)
		if err != nil || info.TimeoutMs != tc.want || info.ID != 0x10 {
			t.Errorf("session after createSession(%d) = %+v, %v; want timeout %d", tc.requested, info, err, tc.want)
		}
		if got := h.tree.SessionTimeouts(); len(got) != 1 || got[0x10] != tc.want {
			t.Errorf("SessionTimeouts = %v", got)
		}
	}
}

func TestCreateSessionRefusesReservedAndDuplicateIDs(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x1, 0))
	for _, id := range []api.ID{0, containerOwner, ttlOwnerBase | 5, 1<<63 | 1, 0x1} {
		t.Run(id.String(), func(t *testing.T) {
			h.tb = t
			h.fails(openSession(id, 0), api.CodeBadArguments)
		})
	}
	h.tb = t
	h.ok(openSession(1<<63-1, 0)) // the highest valid id
	if got := h.tree.Counts().Sessions; got != 2 {
		t.Errorf("%d sessions, want 2", got)
	}
}

func TestValidSessionIDExcludesKindMarkers(t *testing.T) {
	for id, want := range map[api.ID]bool{
		0: false, 1: true, 0x1f3a: true, 1<<63 - 1: true,
		containerOwner: false, ttlOwnerBase: false, ttlOwnerBase | 1000: false, 1<<64 - 1: false,
	} {
		if got := fsm.ValidSessionID(id); got != want {
			t.Errorf("ValidSessionID(%s) = %v, want %v", id, got, want)
		}
	}
}

func TestSessionEndDeletesItsEphemeralsAtOneZxid(t *testing.T) {
	for _, end := range []struct {
		name string
		cmd  func(api.ID) fsm.Command
	}{
		{"close", closeSession},
		{"expire", expireSession},
	} {
		t.Run(end.name, func(t *testing.T) {
			h := newHarness(t)
			h.ok(openSession(0xA, 5000))
			h.ok(openSession(0xB, 5000))
			h.ok(create("/app", ""))
			h.ok(create("/app/locks", ""))
			h.ok(createEphemeral("/app/locks/l-", "", 0xA, fsm.FlagSequential)) // l-0000000000
			h.ok(createEphemeral("/e", "mine", 0xA))
			h.ok(createEphemeral("/app/member", "", 0xA))
			h.ok(createEphemeral("/app/other", "", 0xB))
			h.ok(createEphemeral("/app/locks/l-", "", 0xB, fsm.FlagSequential)) // l-0000000001
			appBefore, locksBefore := h.stat("/app"), h.stat("/app/locks")

			res, ev := h.apply(end.cmd(0xA))
			z := h.zxid
			if res.Err != nil {
				t.Fatalf("%s: %v", end.name, res.Err)
			}
			// In path order, every event at the zxid of the session's end.
			checkEvents(t, ev, []api.Event{
				evDeleted("/app/locks/l-0000000000", z), evRemoved("/app/locks", "l-0000000000", z),
				evDeleted("/app/member", z), evRemoved("/app", "member", z),
				evDeleted("/e", z), evRemoved("/", "e", z),
			})
			for _, p := range []string{"/e", "/app/member", "/app/locks/l-0000000000"} {
				if h.exists(p) {
					t.Errorf("%s survived its session", p)
				}
			}
			for _, p := range []string{"/app/other", "/app/locks/l-0000000001"} {
				if !h.exists(p) {
					t.Errorf("%s of the other session was deleted", p)
				}
			}
			want := appBefore
			want.Cversion, want.Pzxid, want.NumChildren = appBefore.Cversion+1, z, appBefore.NumChildren-1
			checkStat(t, "/app", h.stat("/app"), want)
			want = locksBefore
			want.Cversion, want.Pzxid, want.NumChildren = locksBefore.Cversion+1, z, locksBefore.NumChildren-1
			checkStat(t, "/app/locks", h.stat("/app/locks"), want)

			if _, _, err := h.tree.Session(0xA); api.CodeOf(err) != api.CodeSessionExpired {
				t.Errorf("Session after %s: %v, want SessionExpired", end.name, err)
			}
			if _, ok := h.tree.SessionTimeouts()[0xA]; ok {
				t.Errorf("SessionTimeouts still has the ended session")
			}
			h.fails(createEphemeral("/again", "", 0xA), api.CodeSessionExpired)
			s := captureState(t, h.tree)
			checkInvariants(t, s)
			if s.Counts.Sessions != 1 || s.Counts.Ephemerals != 2 {
				t.Errorf("counts = %+v, want 1 session and 2 ephemerals", s.Counts)
			}
		})
	}
}

func TestSessionWithoutEphemeralsEndsWithoutEvents(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x1, 0))
	_, ev := h.ok(closeSession(0x1))
	checkEvents(t, ev, nil)
	if got := h.tree.Counts().Sessions; got != 0 {
		t.Errorf("%d sessions", got)
	}
}

func TestExpiringUnknownSessionIsNoOpButClosingIsSessionExpired(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x1, 0))
	h.ok(closeSession(0x1))
	for _, id := range []api.ID{0x1, 0x2, 0} {
		res, ev := h.apply(expireSession(id))
		if res.Err != nil || len(ev) != 0 {
			t.Errorf("expire %s: %+v %v, want a silent no-op", id, res.Err, ev)
		}
		h.fails(closeSession(id), api.CodeSessionExpired)
	}
}

func TestSessionListsItsEphemeralsSorted(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x2, 0))
	h.ok(openSession(0x1, 0))
	h.ok(createEphemeral("/z", "", 0x1))
	h.ok(createEphemeral("/a", "", 0x1))
	h.ok(create("/m", ""))
	h.ok(createEphemeral("/m/e", "", 0x1))
	h.ok(createEphemeral("/b", "", 0x2))
	info, _, err := h.tree.Session(0x1)
	if err != nil || fmt.Sprint(info.Ephemerals) != "[/a /m/e /z]" {
		t.Errorf("session 0x1 = %+v, %v", info, err)
	}
	// An ephemeral deleted by hand leaves the session's list.
	h.ok(del("/a", fsm.AnyVersion))
	// And one removed with its parent's recursive delete.
	h.ok(delAll("/m"))
	info, _, _ = h.tree.Session(0x1)
	if fmt.Sprint(info.Ephemerals) != "[/z]" {
		t.Errorf("session 0x1 ephemerals = %v, want [/z]", info.Ephemerals)
	}
	list, _ := h.tree.Sessions()
	if len(list) != 2 || list[0].ID != 0x1 || list[1].ID != 0x2 || fmt.Sprint(list[1].Ephemerals) != "[/b]" {
		t.Errorf("Sessions() = %+v", list)
	}
	if c := h.tree.Counts(); c.Ephemerals != 2 || c.Sessions != 2 {
		t.Errorf("counts = %+v", c)
	}
	// Closing now deletes only what is left.
	_, ev := h.ok(closeSession(0x1))
	checkEvents(t, ev, []api.Event{evDeleted("/z", h.zxid), evRemoved("/", "z", h.zxid)})
}

func TestEphemeralOwnerIsTheSession(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x1f3a, 0))
	res, _ := h.ok(createEphemeral("/e", "", 0x1f3a))
	if res.Stat.EphemeralOwner != 0x1f3a || h.stat("/e").EphemeralOwner != 0x1f3a {
		t.Errorf("owner = %s / %s", res.Stat.EphemeralOwner, h.stat("/e").EphemeralOwner)
	}
	// The caller's session does not make a persistent node ephemeral.
	c := create("/p", "")
	c.Session = 0x1f3a
	h.ok(c)
	if got := h.stat("/p").EphemeralOwner; got != 0 {
		t.Errorf("persistent node created within a session has owner %s", got)
	}
}
