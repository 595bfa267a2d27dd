//go:build !linux

package main

import "syscall"

// bindAddressNoPort does nothing outside Linux: one source address is
// enough for the default 10,000 connections.
func bindAddressNoPort(_, _ string, _ syscall.RawConn) error { return nil }
