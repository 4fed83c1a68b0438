package keyspace

import (
	"bytes"
	"fmt"
	"testing"

	"ferricd/internal/store"
)

// fillHash writes a collection of type typ at key with n sub-keys "f0".. "f<n-1>".
func fillColl(t *testing.T, tx *Txn, key []byte, typ Type, n int) *Coll {
	t.Helper()
	c, _, err := tx.LookupOrCreateCollection(key, typ)
	must(t, err)
	for i := range n {
		must(t, tx.PutSub(c, fmt.Appendf(nil, "f%03d", i), fmt.Appendf(nil, "v%d", i)))
	}
	c.Meta.Size += int64(n)
	must(t, tx.SaveCollection(c))
	return c
}

// subCount returns how many sub-keys are stored, over all collections.
func subCount(t *testing.T, e *env) int {
	t.Helper()
	return len(spanKeys(t, e.db, store.PrefixSub, allSlots))
}

func readSubs(t *testing.T, tx *Txn, c *Coll) []string {
	t.Helper()
	it, err := tx.IterSubs(c, SubIterOptions{})
	must(t, err)
	defer it.Close()
	var out []string
	for it.First(); it.Valid(); it.Next() {
		out = append(out, string(it.Sub())+"="+string(it.Value()))
	}
	return out
}

func TestCollectionRoundTrip(t *testing.T) {
	e := newEnv(t)
	key := []byte("h")
	e.write(baseNow, 1, func(tx *Txn) { fillColl(t, tx, key, TypeHash, 3) })
	tx := e.read(baseNow)
	defer tx.Close()
	c, err := tx.LookupCollection(key, TypeHash)
	must(t, err)
	if c == nil || c.Meta.Size != 3 {
		t.Fatalf("LookupCollection = %+v, want a hash of size 3", c)
	}
	v, ok, err := tx.GetSub(c, []byte("f001"))
	must(t, err)
	if !ok || string(v) != "v1" {
		t.Errorf("GetSub(f001) = %q %v, want v1", v, ok)
	}
	if got := readSubs(t, tx, c); fmt.Sprint(got) != "[f000=v0 f001=v1 f002=v2]" {
		t.Errorf("IterSubs = %v", got)
	}
	if _, err := tx.LookupCollection(key, TypeSet); err != ErrWrongType {
		t.Errorf("LookupCollection with another type: err %v, want ErrWrongType", err)
	}
	checkInvariants(t, e.db, e.counts)
}

func TestSubIterBoundsAndSeek(t *testing.T) {
	e := newEnv(t)
	key := []byte("h")
	e.write(baseNow, 1, func(tx *Txn) { fillColl(t, tx, key, TypeHash, 10) })
	tx := e.read(baseNow)
	defer tx.Close()
	c, err := tx.LookupCollection(key, TypeHash)
	must(t, err)
	it, err := tx.IterSubs(c, SubIterOptions{From: []byte("f002"), To: []byte("f005")})
	must(t, err)
	defer it.Close()
	var got []string
	for ok := it.Last(); ok; ok = it.Prev() {
		got = append(got, string(it.Sub()))
	}
	if fmt.Sprint(got) != "[f004 f003 f002]" {
		t.Errorf("reverse within bounds = %v", got)
	}
	if !it.SeekGE([]byte("f0035")) || string(it.Sub()) != "f004" {
		t.Errorf("SeekGE(f0035) did not land on f004")
	}
	if !it.SeekLT([]byte("f003")) || string(it.Sub()) != "f002" {
		t.Errorf("SeekLT(f003) did not land on f002")
	}
}

func TestDeleteDropsSubKeys(t *testing.T) {
	for _, n := range []int{1, smallDropLimit, smallDropLimit + 1, 500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := newEnv(t)
			e.write(baseNow, 1, func(tx *Txn) {
				fillColl(t, tx, []byte("a"), TypeSet, n)
				fillColl(t, tx, []byte("b"), TypeSet, 2)
			})
			e.write(baseNow, 2, func(tx *Txn) {
				ok, err := tx.Delete([]byte("a"))
				must(t, err)
				if !ok {
					t.Fatal("Delete of a live set reported absent")
				}
			})
			if got := subCount(t, e); got != 2 {
				t.Errorf("after deleting a %d-member set, %d sub-keys remain, want the other set's 2", n, got)
			}
			checkInvariants(t, e.db, e.counts)
		})
	}
}

func TestOverwriteAndExpiryDropSubKeys(t *testing.T) {
	e := newEnv(t)
	e.write(baseNow, 1, func(tx *Txn) {
		fillColl(t, tx, []byte("a"), TypeList, 5)
		c := fillColl(t, tx, []byte("b"), TypeHash, 40)
		_, err := tx.SetExpire(c.Key, baseNow+10)
		must(t, err)
	})
	e.write(baseNow, 2, func(tx *Txn) { must(t, tx.SetString([]byte("a"), []byte("x"), 0)) })
	e.write(baseNow+20, 3, func(tx *Txn) {
		if _, err := tx.ExpireIfDue([]byte("b")); err != nil {
			t.Fatal(err)
		}
	})
	if got := subCount(t, e); got != 0 {
		t.Errorf("%d sub-keys left after overwrite and expiry", got)
	}
	checkInvariants(t, e.db, e.counts)
}

func TestRecreateInOneEntryGetsNewVersion(t *testing.T) {
	e := newEnv(t)
	e.write(baseNow, 1, func(tx *Txn) {
		fillColl(t, tx, []byte("k"), TypeSet, 3)
		_, err := tx.Delete([]byte("k"))
		must(t, err)
		fillColl(t, tx, []byte("k"), TypeSet, 1)
	})
	tx := e.read(baseNow)
	defer tx.Close()
	c, err := tx.LookupCollection([]byte("k"), TypeSet)
	must(t, err)
	if got := readSubs(t, tx, c); len(got) != 1 {
		t.Errorf("recreated set sees %v, want one member", got)
	}
	if got := subCount(t, e); got != 1 {
		t.Errorf("%d sub-keys stored, want 1", got)
	}
}

func TestSaveEmptyDeletes(t *testing.T) {
	e := newEnv(t)
	key := []byte("k")
	e.write(baseNow, 1, func(tx *Txn) { fillColl(t, tx, key, TypeHash, 2) })
	e.write(baseNow, 2, func(tx *Txn) {
		c, err := tx.LookupCollection(key, TypeHash)
		must(t, err)
		must(t, tx.DeleteSub(c, []byte("f000")))
		must(t, tx.DeleteSub(c, []byte("f001")))
		c.Meta.Size = 0
		must(t, tx.SaveCollection(c))
		// A collection created and emptied in one command leaves nothing either.
		n := tx.CreateCollection([]byte("other"), TypeSet)
		must(t, tx.PutSub(n, []byte("m"), nil))
		must(t, tx.SaveCollection(n))
	})
	if _, ok := rawMetaOf(t, e.db, key); ok {
		t.Error("an emptied collection is still stored")
	}
	if got := subCount(t, e); got != 0 {
		t.Errorf("%d sub-keys left", got)
	}
	checkInvariants(t, e.db, e.counts)
}

func TestRenameAndCopyCollections(t *testing.T) {
	sameSlotDst := []byte("{k}dst")
	otherSlotDst := []byte("zz")
	for _, dst := range [][]byte{sameSlotDst, otherSlotDst} {
		t.Run(string(dst), func(t *testing.T) {
			e := newEnv(t)
			src := []byte("{k}src")
			e.write(baseNow, 1, func(tx *Txn) {
				fillColl(t, tx, src, TypeHash, 3)
				fillColl(t, tx, dst, TypeSet, 50) // replaced by the rename
			})
			e.write(baseNow, 2, func(tx *Txn) {
				m, _, err := tx.Lookup(src)
				must(t, err)
				must(t, tx.RenameKey(src, dst, m))
			})
			tx := e.read(baseNow)
			defer tx.Close()
			if c, _ := tx.LookupCollection(src, TypeHash); c != nil {
				t.Error("source still exists after RENAME")
			}
			c, err := tx.LookupCollection(dst, TypeHash)
			must(t, err)
			if c == nil || fmt.Sprint(readSubs(t, tx, c)) != "[f000=v0 f001=v1 f002=v2]" {
				t.Fatalf("renamed hash reads %v", c)
			}
			if got := subCount(t, e); got != 3 {
				t.Errorf("%d sub-keys after RENAME, want 3", got)
			}
			e.write(baseNow, 3, func(tx *Txn) {
				m, _, err := tx.Lookup(dst)
				must(t, err)
				must(t, tx.CopyKey(dst, src, m))
			})
			e.write(baseNow, 4, func(tx *Txn) {
				c, err := tx.LookupCollection(dst, TypeHash)
				must(t, err)
				must(t, tx.PutSub(c, []byte("f000"), []byte("changed")))
				must(t, tx.SaveCollection(c))
			})
			tx2 := e.read(baseNow)
			defer tx2.Close()
			cp, err := tx2.LookupCollection(src, TypeHash)
			must(t, err)
			if got := fmt.Sprint(readSubs(t, tx2, cp)); got != "[f000=v0 f001=v1 f002=v2]" {
				t.Errorf("copy changed with its source: %s", got)
			}
			checkInvariants(t, e.db, e.counts)
		})
	}
}

func TestReadPinsSnapshot(t *testing.T) {
	e := newEnv(t)
	key := []byte("k")
	e.write(baseNow, 1, func(tx *Txn) { fillColl(t, tx, key, TypeSet, 3) })
	tx := e.read(baseNow)
	defer tx.Close()
	c, err := tx.LookupCollection(key, TypeSet)
	must(t, err)
	e.write(baseNow, 2, func(w *Txn) {
		_, err := w.Delete(key)
		must(t, err)
	})
	if got := readSubs(t, tx, c); len(got) != 3 {
		t.Errorf("a read that looked the set up before a DEL sees %d members, want all 3", len(got))
	}
	v, ok, err := tx.GetSub(c, []byte("f000"))
	must(t, err)
	if !ok || !bytes.Equal(v, []byte("v0")) {
		t.Errorf("GetSub after concurrent DEL = %q %v", v, ok)
	}
}
