package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

// A task's stdout and stderr are pipes to a log writer: a small process
// of its own (cutover's executable run with LogWriterArg, see
// Options.LogWriter) that stamps each line with the time it read it and
// its stream, and appends it to the task's log file as a record (see
// runtime.LogLine). It runs in its own session, ignores the signals a
// terminal or a stop sends, and ends when both pipes are closed, i.e.
// when the task and every process that inherited its output have ended;
// so, like the task, it outlives cutover, and a task never writes to a
// pipe nobody reads. Output still in a pipe when the task exits is
// written before the writer ends: the driver waits for that (up to
// logDrainWait) before it reports a task's output complete.

// LogWriterArg is the first argument that makes cutover's executable the
// log writer of one task (see LogWriterMain).
const LogWriterArg = "internal-task-log-writer"

// logDrainWait bounds how long the end of a task's output is awaited
// after it exited: a process that left the task's group may keep the
// pipes open.
const logDrainWait = 2 * time.Second

// The log writer's descriptors: the read ends of the task's stdout and
// stderr, and its log file.
const (
	writerStdoutFD = 3
	writerStderrFD = 4
	writerLogFD    = 5
)

// LogWriterMain runs the log writer process on the descriptors its
// driver passed and returns its exit code.
func LogWriterMain() int {
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	stdout := os.NewFile(writerStdoutFD, "stdout")
	stderr := os.NewFile(writerStderrFD, "stderr")
	logFile := os.NewFile(writerLogFD, "log")
	for _, f := range []*os.File{stdout, stderr, logFile} {
		if f == nil {
			fmt.Fprintln(os.Stderr, "cutover: the task log writer is started by cutover's process runtime, with its descriptors 3 to 5")
			return 2
		}
		if _, err := f.Stat(); err != nil {
			fmt.Fprintln(os.Stderr, "cutover: the task log writer is started by cutover's process runtime:", err)
			return 2
		}
	}
	writeRecords(stdout, stderr, logFile, time.Now)
	return 0
}

// writeRecords appends each line read from stdout and stderr to w as a
// record stamped by now, until both end. A failed write (a full disk)
// loses its record; reading goes on, so the task never blocks on it.
func writeRecords(stdout, stderr io.Reader, w io.Writer, now func() time.Time) {
	rw := &recordWriter{w: w, now: now}
	var wg sync.WaitGroup
	wg.Go(func() { rw.copyStream(stdout, runtime.Stdout) })
	wg.Go(func() { rw.copyStream(stderr, runtime.Stderr) })
	wg.Wait()
}

// recordWriter writes the records of both streams, one write each and
// stamped under its lock, so a log file's records are in time order.
type recordWriter struct {
	w   io.Writer
	now func() time.Time

	mu  sync.Mutex
	buf []byte
}

func (rw *recordWriter) copyStream(r io.Reader, stream string) {
	br := bufio.NewReaderSize(r, runtime.MaxLogRecord)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text, complete := line, line[len(line)-1] == '\n'
			if complete {
				text = line[:len(line)-1]
			}
			rw.write(runtime.LogLine{Stream: stream, Text: text, Partial: !complete})
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (rw *recordWriter) write(l runtime.LogLine) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	l.Time = rw.now()
	rw.buf = l.AppendRecord(rw.buf[:0])
	rw.w.Write(rw.buf)
}

// taskOutput is where a task's stdout and stderr go.
type taskOutput struct {
	stdout, stderr *os.File
	// done is closed when the log writer has written all output; nil
	// without a log writer.
	done <-chan struct{}
}

// close closes the driver's copies of the task's descriptors.
func (o taskOutput) close() {
	o.stdout.Close()
	if o.stderr != o.stdout {
		o.stderr.Close()
	}
}

// openOutput opens the log of task id and, with Options.LogWriter,
// starts its log writer.
func (d *Driver) openOutput(id string) (taskOutput, error) {
	logFile, err := os.OpenFile(logPath(d.opts.StateDir, id), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return taskOutput{}, fmt.Errorf("opening log: %w", err)
	}
	if len(d.opts.LogWriter) == 0 {
		return taskOutput{stdout: logFile, stderr: logFile}, nil
	}
	defer logFile.Close() // the writer has its own descriptor
	outR, outW, err := os.Pipe()
	if err != nil {
		return taskOutput{}, fmt.Errorf("starting log writer: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return taskOutput{}, fmt.Errorf("starting log writer: %w", err)
	}
	defer outR.Close()
	defer errR.Close()

	cmd := exec.Command(d.opts.LogWriter[0], d.opts.LogWriter[1:]...)
	cmd.Env = []string{} // nothing of cutover's environment
	cmd.Dir = "/"        // holds no directory busy
	cmd.ExtraFiles = []*os.File{outR, errR, logFile}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		outW.Close()
		errW.Close()
		return taskOutput{}, fmt.Errorf("starting log writer: %w", err)
	}
	done := make(chan struct{})
	// Reaps the writer, which ends with the task's output; if cutover
	// exits first, init does.
	go func() {
		cmd.Wait()
		close(done)
	}()
	return taskOutput{stdout: outW, stderr: errW, done: done}, nil
}

// outputDone waits until t's output is all in its log: its log writer
// has ended, or logDrainWait has passed, or ctx ended.
func outputDone(ctx context.Context, t *task) {
	if t.outputDone == nil {
		return
	}
	timer := time.NewTimer(logDrainWait)
	defer timer.Stop()
	select {
	case <-t.outputDone:
	case <-timer.C:
	case <-ctx.Done():
	}
}
