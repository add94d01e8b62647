// Package web is gcrm's HTTP face: chi routes, handlers, JSON and problem+json errors,
// middleware (request ids, logs, metrics, limits) and the embedded map UI.
package web
