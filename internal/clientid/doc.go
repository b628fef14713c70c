// Package clientid says who is at the other end of a connection, for every
// limit, lockout, log line and policy that depends on it: the client's
// address, whether it is on loopback, whether it is in a configured set of
// networks, and, behind a load balancer, the address a PROXY protocol
// header (v1 or v2) gives for it.
//
// A connection's identity is decided once, before the protocol starts:
// Direct for a client that connects itself, or ProxyPolicy.Accept for a
// listener behind a proxy. A client known only through a PROXY header is
// never "loopback", whatever address the header claims: the connection it
// came over crossed a network (or at least a proxy) the server cannot see.
package clientid
