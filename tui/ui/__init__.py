"""The Textual face of mailprov: an app built by `app.create_app` over a ProviderService."""
