package proxy

import "bufio"

// flush flushes bw, whose writer passes the write of what bw holds to
// w.write: the last bytes of a message whose answer comes next.
func (w *answerWriter) flush(bw *bufio.Writer) error {
	if bw.Buffered() == 0 {
		return nil
	}
	w.armed = true
	err := bw.Flush()
	w.armed = false
	return err
}
