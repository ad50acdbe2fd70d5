export * from './frame.js';
export * from './frame-decoder.js';
export * from './frame-encoder.js';
export * from './header-escaping.js';
export * from './heartbeat.js';
export * from './message-frame.js';
export * from './stomp-protocol-error.js';
export * from './version.js';
