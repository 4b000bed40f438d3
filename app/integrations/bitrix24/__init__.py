"""Bitrix24 CRM sync: members to contacts, through the portal's inbound webhook."""
