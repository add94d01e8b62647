// Package crm holds gcrm's records — customers, prospects and leads (one table, told apart by
// Kind) — and their SQL: create, find, update with optimistic concurrency, delete, import.
package crm
