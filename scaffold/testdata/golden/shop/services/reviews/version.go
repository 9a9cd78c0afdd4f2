package main

// Version is this service's version, reported by /healthz.
const Version = "0.1.0"
