// The prebuilt llm-compress-native addon for linux-x64-gnu. llm-compress-native reads `path`, checks this
// package's version and loads the file; nothing here loads it.
'use strict';
module.exports = { path: require('node:path').join(__dirname, 'llmc.node') };
