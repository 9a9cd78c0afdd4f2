package main

// Version is the gateway's version, reported by /healthz.
const Version = "0.1.0"
