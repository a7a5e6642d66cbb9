// Package cursor encodes keyset-paging cursors: an opaque token naming the
// last item of a page by its sort key, a time and an id (Encode) or a text
// key alone (EncodeKey).
package cursor
