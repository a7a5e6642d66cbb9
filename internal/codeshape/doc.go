// Package codeshape holds tests of the product's code as text: rules a
// reader relies on that the compiler does not check, such as the longest a
// function may be. It has no code of its own.
package codeshape
