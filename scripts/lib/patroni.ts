// The development cluster reads Patroni's REST API through the cook's own module.
export * from '../../cook/patroni-api.js'
