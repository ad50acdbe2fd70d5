import base from './jest.config.js';

/**
 * The relay tests (`npm run test:relay`): the specs under test/relay/, against the RabbitMQ that
 * `bash scripts/rabbitmq.sh start` runs on 127.0.0.1 (STOMP 61613, Web-STOMP 15674). One worker,
 * since some tests stop and start RabbitMQ (`rabbitmqctl stop_app` / `start_app`) under the others;
 * a longer timeout, since those wait for RabbitMQ to come back. The global setup fails the run at
 * once, naming the command, when nothing accepts on 127.0.0.1:61613.
 */
export default {
  ...base,
  testMatch: ['<rootDir>/test/relay/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: '<rootDir>/test/relay/global-setup.ts',
  maxWorkers: 1,
  testTimeout: 60000,
};
