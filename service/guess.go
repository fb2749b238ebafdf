package service

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Against password guessing (DESIGN §9): a wrong password is only another
// identity, so each guess is a NoAuth answer. A client refused NoAuth more
// than Security.NoAuthLimit times in a minute is answered Throttled until
// its minute ends, on every transport. A client is an address and the user
// its credentials name: only requests with credentials count (an anonymous
// refusal guesses nothing), and one user's guesses do not lock out the
// others behind the same address.

// DefaultNoAuthLimit is Security.NoAuthLimit's default.
const DefaultNoAuthLimit = 60

const guessWindow = time.Minute

type guessLimit struct {
	max int

	mu      sync.Mutex
	clients map[guesser]*guesses
	swept   time.Time
}

type guesser struct {
	addr netip.Addr
	user string
}

type guesses struct {
	start time.Time
	count int
}

// guesserOf is the client a caller is for the limit; false for a caller
// without credentials.
func guesserOf(c Caller) (guesser, bool) {
	for _, id := range c.Identity {
		if strings.HasPrefix(id, "digest:") {
			a, _ := netip.ParseAddr(c.Addr)
			return guesser{a, c.User}, true
		}
	}
	return guesser{}, false
}

// GuessWait is how long the caller must wait before it is served again:
// 0 unless it passed the NoAuth limit.
func (s *Service) GuessWait(c Caller) time.Duration {
	g, ok := guesserOf(c)
	if !ok || s.guesses == nil {
		return 0
	}
	l := s.guesses
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.clients[g]
	if n == nil || n.count < l.max {
		return 0
	}
	if left := n.start.Add(guessWindow).Sub(now); left > 0 {
		return left
	}
	delete(l.clients, g)
	return 0
}

// Guessed counts a NoAuth answer to the caller.
func (s *Service) Guessed(c Caller) {
	g, ok := guesserOf(c)
	if !ok || s.guesses == nil {
		return
	}
	l := s.guesses
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > guessWindow {
		for k, n := range l.clients {
			if now.Sub(n.start) > guessWindow {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	n := l.clients[g]
	if n == nil || now.Sub(n.start) > guessWindow {
		n = &guesses{start: now}
		l.clients[g] = n
	}
	n.count++
}
