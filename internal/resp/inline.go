package resp

import "ferricd/internal/splitargs"

// splitInline splits an inline command line into arguments as Redis does, so that
// telnet-style input means the same to ferricd as to Redis; see splitargs.Split.
func splitInline(line []byte, dst [][]byte) ([][]byte, bool) { return splitargs.Split(line, dst) }
