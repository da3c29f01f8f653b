// The values the client hands to the application. Field names are the wire
// protocol's (docs/protocol.md), so what a server sends is what you read.
export {};
