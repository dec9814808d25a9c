package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressFunc returns a callback drawing a progress bar on stderr for long
// logs, or nil when there is nothing to draw on: only when forced or when
// stderr is a terminal, so scripts and tests stay quiet.
func progressFunc(stderr io.Writer, force bool, what string) (update func(done, total uint64), finish func()) {
	if !force && !isTerminal(stderr) {
		return nil, func() {}
	}
	var bar *progressbar.ProgressBar
	update = func(done, total uint64) {
		if bar == nil {
			bar = progressbar.NewOptions64(int64(total),
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(),
				progressbar.OptionSetItsString("entries"),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		_ = bar.Set64(int64(done))
	}
	finish = func() {
		if bar != nil {
			_ = bar.Finish()
		}
	}
	return update, finish
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
