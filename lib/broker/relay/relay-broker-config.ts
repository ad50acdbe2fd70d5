/** What the relay is built with: `RelayBrokerOptions` after defaults and validation. */
export interface RelayBrokerConfig {
  prefixes: string[];
  host: string;
  port: number;
  clientLogin: string;
  clientPasscode: string;
  systemLogin: string;
  systemPasscode: string;
  virtualHost: string;
  systemHeartbeatSendInterval: number;
  systemHeartbeatReceiveInterval: number;
  clientHeartbeatInterval: number;
  connectTimeout: number;
  reconnectDelay: number;
  maxReconnectDelay: number;
  userDestinationBroadcast: string | false;
  userRegistryBroadcast: string | false;
  userRegistryBroadcastInterval: number;
}
