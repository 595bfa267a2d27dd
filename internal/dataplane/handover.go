package dataplane

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/proxy"
)

// The hand-over of a running data plane to its successor, on the control
// socket. The successor sends `POST /v1/handover` with `Upgrade:
// cutover-handover`; the predecessor answers 101 and then, on the raw
// connection:
//
//	predecessor → one byte 'F' carrying the sockets (SCM_RIGHTS), then
//	              a handoverState line (JSON) naming them in order
//	successor   → {"ready":true} once it serves on them
//	predecessor → stops accepting, drains, and closes the connection
//	              when it exits (the successor's sign that it is gone)
//
// Both processes accept on the same sockets for a moment, so no connect
// is ever refused; the predecessor finishes what it had accepted.

// handoverProtocol is the Upgrade token of the hand-over.
const handoverProtocol = "cutover-handover"

// handoverState is what the predecessor hands over besides its sockets.
type handoverState struct {
	// Files names the passed sockets in order: "control" for the control
	// socket, else a proxy listener's configured address.
	Files   []string
	Version uint64
	Config  proxy.Config
	// Healthy lists, by target group, the targets healthy at hand-over:
	// the successor registers them healthy, not initial.
	Healthy map[string][]string
	// Draining lists targets the predecessor still drains: the successor
	// reports them drained only once the predecessor has exited.
	Draining []string // "group target"
	PID      int
}

type handoverReady struct {
	Ready bool
}

// sendSockets passes files over c with one byte, then the state line.
func sendSockets(c *net.UnixConn, files []*os.File, st handoverState) error {
	fds := make([]int, len(files))
	for i, f := range files {
		fd, err := RawFD(f)
		if err != nil {
			return err
		}
		fds[i] = int(fd)
	}
	if _, _, err := c.WriteMsgUnix([]byte{'F'}, syscall.UnixRights(fds...), nil); err != nil {
		return fmt.Errorf("passing %d sockets: %w", len(fds), err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("sending the hand-over state: %w", err)
	}
	return nil
}

// rightsReader reads a unix connection with recvmsg and keeps every
// socket passed along the way, so a bufio.Reader on top of it never
// loses one.
type rightsReader struct {
	c     *net.UnixConn
	files []*os.File
}

func (r *rightsReader) Read(p []byte) (int, error) {
	oob := make([]byte, syscall.CmsgSpace(64*4))
	n, oobn, _, _, err := r.c.ReadMsgUnix(p, oob)
	if oobn > 0 {
		msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
		if perr != nil {
			return n, fmt.Errorf("reading passed sockets: %w", perr)
		}
		for _, m := range msgs {
			fds, perr := syscall.ParseUnixRights(&m)
			if perr != nil {
				continue
			}
			for _, fd := range fds {
				syscall.CloseOnExec(fd)
				r.files = append(r.files, os.NewFile(uintptr(fd), "handed-over"))
			}
		}
	}
	return n, err
}

// receiveSockets reads what sendSockets sent: the sockets by name and
// the state.
func receiveSockets(br *bufio.Reader, rr *rightsReader) (map[string]*os.File, handoverState, error) {
	var st handoverState
	b, err := br.ReadByte()
	if err != nil || b != 'F' {
		return nil, st, fmt.Errorf("reading the passed sockets: got %q, %v", b, err)
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, st, fmt.Errorf("reading the hand-over state: %w", err)
	}
	if err := json.Unmarshal(line, &st); err != nil {
		return nil, st, fmt.Errorf("decoding the hand-over state: %w", err)
	}
	if len(rr.files) != len(st.Files) {
		for _, f := range rr.files {
			f.Close()
		}
		return nil, st, fmt.Errorf("got %d sockets for %d names", len(rr.files), len(st.Files))
	}
	files := make(map[string]*os.File, len(st.Files))
	for i, name := range st.Files {
		files[name] = rr.files[i]
	}
	return files, st, nil
}

// fileListener turns a passed socket into a listener; the file is closed.
func fileListener(f *os.File) (net.Listener, error) {
	defer f.Close()
	return net.FileListener(f)
}

// predecessor is the connection to the data plane being replaced.
type predecessor struct {
	conn *net.UnixConn
	br   *bufio.Reader
	done chan struct{} // closed when it has exited (the connection ends)
}

// dialHandover asks the data plane on sock to hand over, and returns its
// sockets and state.
func dialHandover(sock string) (*predecessor, map[string]*os.File, handoverState, error) {
	uc, br, files, st, err := dialSockets(sock, "/v1/handover", handoverProtocol)
	if err != nil {
		return nil, nil, st, err
	}
	return &predecessor{conn: uc, br: br, done: make(chan struct{})}, files, st, nil
}

// dialSockets asks the data plane on sock for its sockets on path with
// the Upgrade protocol, and returns them by name with the state sent.
func dialSockets(sock, path, protocol string) (*net.UnixConn, *bufio.Reader, map[string]*os.File, handoverState, error) {
	var st handoverState
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return nil, nil, nil, st, fmt.Errorf("connecting to the running data plane: %w", err)
	}
	uc := c.(*net.UnixConn)
	req := "POST " + path + " HTTP/1.1\r\nHost: dataplane\r\nConnection: Upgrade\r\nUpgrade: " + protocol + "\r\nContent-Length: 0\r\n\r\n"
	if _, err := uc.Write([]byte(req)); err != nil {
		uc.Close()
		return nil, nil, nil, st, fmt.Errorf("asking for the sockets: %w", err)
	}
	rr := &rightsReader{c: uc}
	br := bufio.NewReader(rr)
	if err := readUpgrade(br); err != nil {
		uc.Close()
		return nil, nil, nil, st, err
	}
	files, st, err := receiveSockets(br, rr)
	if err != nil {
		uc.Close()
		return nil, nil, nil, st, err
	}
	return uc, br, files, st, nil
}

// readUpgrade reads the predecessor's answer head: 101, or an error.
func readUpgrade(br *bufio.Reader) error {
	status, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the hand-over answer: %w", err)
	}
	var body []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading the hand-over answer: %w", err)
		}
		if line == "\r\n" {
			break
		}
	}
	if len(status) < 12 || status[9:12] != "101" {
		body, _ = br.Peek(br.Buffered())
		return fmt.Errorf("the running data plane refused the hand-over: %s %s", status, body)
	}
	return nil
}

// ready tells the predecessor to stop accepting, and watches for its exit.
func (p *predecessor) ready() error {
	b, _ := json.Marshal(handoverReady{Ready: true})
	if _, err := p.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("telling the old data plane to stop: %w", err)
	}
	go func() {
		defer close(p.done)
		defer p.conn.Close()
		var buf [64]byte
		for {
			if _, err := p.br.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	return nil
}

var errHandoverAborted = errors.New("the successor did not take over")

// RawFD returns f's descriptor without f.Fd's side effect: Fd puts the
// descriptor in blocking mode, and for a duplicated socket that mode is
// the socket's, shared with the listener it was duplicated from. A
// blocking listener cannot be closed while a goroutine waits in accept.
// The descriptor stays valid while f is open.
func RawFD(f *os.File) (uintptr, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var fd uintptr
	if err := sc.Control(func(u uintptr) { fd = u }); err != nil {
		return 0, err
	}
	return fd, nil
}
