'use strict';
// A trivial pool task for the benchmark: the pool's overhead is all that is measured.
require('../../worker.js').handle((n) => n + 1);
