"""The shipped scenario files (TOML, data only); this file makes the folder the ``perflaw.scenarios``
package so that the files install as package data and ``perflaw run`` finds its built-in default."""
