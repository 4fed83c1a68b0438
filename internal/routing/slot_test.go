package routing

import "testing"

func TestSlotMatchesRedisCluster(t *testing.T) {
	// Figures from Redis Cluster (CLUSTER KEYSLOT on redis-server 7.0).
	cases := []struct {
		key  string
		slot uint16
	}{
		{"foo", 12182},
		{"bar", 5061},
		{"hello", 866},
		{"123456789", 12739},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", 8363},    // empty first tag: whole key hashed
		{"foo{{bar}}zap", 4015}, // tag is "{bar"
		{"foo{bar}{zap}", 5061}, // first tag wins: "bar"
		{"", 0},
	}
	for _, c := range cases {
		if got := Slot([]byte(c.key)); got != c.slot {
			t.Errorf("Slot(%q) = %d, want %d", c.key, got, c.slot)
		}
	}
}

func TestTableCoversEverySlotOnce(t *testing.T) {
	for _, n := range []int{1, 3, 8, 1024} {
		tab, err := NewTable(n)
		if err != nil {
			t.Fatal(err)
		}
		for s := range NumSlots {
			id := tab.ShardOf(uint16(s))
			if id < 1 || int(id) > n || !tab.RangeOf(id).Contains(uint16(s)) {
				t.Fatalf("n=%d: slot %d maps to shard %d whose range %v does not hold it", n, s, id, tab.RangeOf(id))
			}
		}
	}
	if _, err := NewTable(0); err == nil {
		t.Error("NewTable(0) succeeded; want an error")
	}
}
