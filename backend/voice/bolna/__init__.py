"""Order confirmation calls through Bolna: a workspace's Bolna connection, the commerce
notification route that places a call (`POST /webhooks/{slug}/confirm-order`), and Bolna's
execution webhook that follows the call to its end."""
