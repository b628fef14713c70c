package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// loopbackBlock is the size of each write and read of the loopback copy:
// iperf3's default for TCP (128 KiB), so the figure is the one it reports.
const loopbackBlock = 128 << 10

// runLoopback measures the machine's loopback limit: cfg.clients TCP
// streams on 127.0.0.1, each a writer sending a block from memory as fast
// as it can and a reader discarding what arrives, for cfg.duration. No
// protocol and no file: it is the ceiling of any server's RETR on this
// machine, measured in the same run as the servers.
func runLoopback(cfg *config) (*Result, error) {
	res := &Result{Mode: cfg.mode, Addr: "127.0.0.1 (raw TCP copy)", Clients: cfg.clients,
		Verified: "octets written = octets read on every stream"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()

	var (
		wg       sync.WaitGroup
		received atomic.Int64
		stop     atomic.Bool
		mu       sync.Mutex
		failures []error
	)
	fail := func(err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	}
	conns := make([]net.Conn, 0, cfg.clients)
	for range cfg.clients {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), cfg.timeout)
		if err != nil {
			return nil, err
		}
		s, err := ln.Accept()
		if err != nil {
			c.Close()
			return nil, err
		}
		conns = append(conns, c, s)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	cpu := startCPU(nil)
	start := time.Now()
	for i := 0; i < len(conns); i += 2 {
		src, dst := conns[i+1], conns[i]
		sent := new(atomic.Int64)
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			block := make([]byte, loopbackBlock)
			for !stop.Load() {
				_ = src.SetWriteDeadline(time.Now().Add(cfg.timeout))
				n, err := src.Write(block)
				sent.Add(int64(n))
				if err != nil {
					fail(err)
					break
				}
			}
			_ = src.(*net.TCPConn).CloseWrite()
		}()
		go func() { // reader
			defer wg.Done()
			buf := make([]byte, loopbackBlock)
			var got int64
			for {
				_ = dst.SetReadDeadline(time.Now().Add(cfg.timeout))
				n, err := dst.Read(buf)
				got += int64(n)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					fail(err)
					break
				}
			}
			received.Add(got)
			if w := sent.Load(); got != w {
				fail(integrityf("loopback stream read %d octets, %d written", got, w))
			}
		}()
	}
	time.Sleep(cfg.duration)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)

	t := newTally(1)
	for _, err := range failures {
		t.fail(err)
	}
	t.bytes = received.Load()
	res.merge([]*tally{t}, elapsed)
	cpu.stop(res)
	return res, nil
}
