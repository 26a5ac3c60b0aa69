'use strict';
module.exports = require('./cairn_client');
