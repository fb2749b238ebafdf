package consensus

import (
	"io"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/rs/zerolog"
)

// newHCLogger gives raft a logger at the same level as ours, as JSON lines on
// out (stderr by default) beside zerolog's, so one log pipeline reads both.
func newHCLogger(l zerolog.Logger, out io.Writer) hclog.Logger {
	if out == nil {
		out = os.Stderr
	}
	level := hclog.Warn
	switch l.GetLevel() {
	case zerolog.TraceLevel:
		level = hclog.Trace
	case zerolog.DebugLevel:
		level = hclog.Debug
	case zerolog.InfoLevel:
		level = hclog.Info
	case zerolog.ErrorLevel, zerolog.FatalLevel, zerolog.PanicLevel:
		level = hclog.Error
	case zerolog.Disabled:
		level = hclog.Off
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       "raft",
		Level:      level,
		Output:     out,
		JSONFormat: true,
	})
}
