;; An app that never ends: only a deadline (or a kill) stops it.
(module
  (func (export "_start")
    (loop $forever (br $forever))))
