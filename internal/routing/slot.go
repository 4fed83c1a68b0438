// Package routing maps keys to slots and slots to shards.
//
// Slots are Redis Cluster's: CRC16/XMODEM of the key (or of its hash tag, the bytes between
// the first '{' and the next '}' when non-empty) modulo 16384, so cluster-aware clients and
// hash-tag conventions carry over unchanged.
//
// For now the slot → shard mapping is a static Table fixed at start: shard i of n owns one
// contiguous slot range. The durable, versioned route catalog of DESIGN.md §7 replaces it
// when ranges start to move; callers already go through Table.ShardOf so that change stays
// inside this package.
package routing

// NumSlots is the number of hash slots, as in Redis Cluster.
const NumSlots = 16384

var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^c]
	}
	return crc
}

// HashTag returns the part of key that is hashed: the first non-empty {tag}, else the key.
func HashTag(key []byte) []byte {
	for i, c := range key {
		if c != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j == i+1 {
					return key // "{}" is not a tag: hash the whole key
				}
				return key[i+1 : j]
			}
		}
		return key
	}
	return key
}

// Slot returns key's hash slot.
func Slot(key []byte) uint16 {
	return crc16(HashTag(key)) & (NumSlots - 1)
}
