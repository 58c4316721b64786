"""Local stand-in for the Microsoft identity platform and Microsoft Graph (see docs/simulator.md)."""
